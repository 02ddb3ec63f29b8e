import { createCanvas, loadImage } from '@napi-rs/canvas'

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** Width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (!SIGNATURE.every((b, i) => bytes[i] === b)) throw new Error('not a PNG: bad signature')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const type = String.fromCharCode(...bytes.subarray(12, 16))
  if (type !== 'IHDR') throw new Error(`not a PNG: first chunk is ${type}, not IHDR`)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

/** Decoded RGBA pixels of a PNG. */
export async function pngPixels(bytes: Uint8Array): Promise<{ width: number; height: number; data: Uint8ClampedArray }> {
  const image = await loadImage(Buffer.from(bytes))
  const canvas = createCanvas(image.width, image.height)
  const ctx = canvas.getContext('2d')
  ctx.drawImage(image, 0, 0)
  return { width: image.width, height: image.height, data: ctx.getImageData(0, 0, image.width, image.height).data }
}

/** Distinct colours, and how many pixels are within `tolerance` of each of the given hex colours. */
export async function colourStats(bytes: Uint8Array, colours: string[] = [], tolerance = 24): Promise<{ distinct: number; near: number[] }> {
  const { data } = await pngPixels(bytes)
  const targets = colours.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)))
  const seen = new Set<number>()
  const near = targets.map(() => 0)
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!]
    seen.add((r << 16) | (g << 8) | b)
    targets.forEach((t, k) => {
      if (Math.abs(r - t[0]!) <= tolerance && Math.abs(g - t[1]!) <= tolerance && Math.abs(b - t[2]!) <= tolerance) near[k]!++
    })
  }
  return { distinct: seen.size, near }
}

/**
 * Share of pixels that differ by more than `channelTolerance` on any channel: 0 for identical images,
 * 1 when the sizes differ.
 */
export async function pixelDifference(a: Uint8Array, b: Uint8Array, channelTolerance = 8): Promise<number> {
  const [pa, pb] = await Promise.all([pngPixels(a), pngPixels(b)])
  if (pa.width !== pb.width || pa.height !== pb.height) return 1
  let differing = 0
  for (let i = 0; i < pa.data.length; i += 4) {
    for (let c = 0; c < 4; c++) {
      if (Math.abs(pa.data[i + c]! - pb.data[i + c]!) > channelTolerance) {
        differing++
        break
      }
    }
  }
  return differing / (pa.width * pa.height)
}
