import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Quantiles, TimingSummary } from './timing.ts'

/**
 * Prometheus metrics, each on the provider's own registry (never prom-client's global one, so two
 * providers in one process, as in tests, do not collide).
 */
export class ProviderMetrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'cancelbench_requests_total', help: 'API requests by route and status', labelNames: ['route', 'status'], registers: [this.registry] })
  readonly generations = new Counter({ name: 'cancelbench_generations_total', help: 'Finished generations by API and stop reason', labelNames: ['api', 'stop_reason'], registers: [this.registry] })
  /**
   * Per-event totals, bumped as plain numbers on the hot path and published to their counters only when
   * scraped: a counter's inc() per event allocated enough, at tens of thousands of events per second, to
   * add young-generation GC pauses (measured in bench/provider.ts).
   */
  readonly totals = { outputTokensGenerated: 0, outputTokensEmitted: 0 }
  readonly outputTokensGenerated = publishedCounter(this, 'cancelbench_output_tokens_generated_total', 'Output tokens generated; every generated token is billed', 'outputTokensGenerated')
  readonly outputTokensEmitted = publishedCounter(this, 'cancelbench_output_tokens_emitted_total', 'Output tokens written to a client before it went away', 'outputTokensEmitted')
  readonly inputTokensBilled = new Counter({ name: 'cancelbench_input_tokens_billed_total', help: 'Input tokens billed', registers: [this.registry] })
  readonly disconnects = new Counter({ name: 'cancelbench_disconnects_total', help: 'Client disconnects observed during a generation', registers: [this.registry] })
  readonly stopLatency = new Histogram({
    name: 'cancelbench_stop_latency_seconds',
    help: 'Disconnect observed -> generation stopped',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  })
  readonly active: Gauge
  readonly eventDelay: Gauge
  readonly eventJitter: Gauge

  constructor(activeCount: () => number, timing: () => TimingSummary) {
    this.active = new Gauge({
      name: 'cancelbench_active_generations',
      help: 'Generations in progress',
      registers: [this.registry],
      collect() {
        this.set(activeCount())
      },
    })
    // Gauges with a quantile label, read off the provider's HdrHistograms at scrape: a prom-client Summary
    // would cost an observe() per event on the hot path.
    this.eventDelay = quantileGauge(this, 'cancelbench_event_delay_seconds', 'Stream event written - due (its last token generated), since reset', () => timing().delayMs)
    this.eventJitter = quantileGauge(this, 'cancelbench_event_jitter_seconds', "|Gap between a stream's events - planned gap|, since reset", () => timing().jitterMs)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  reset(): void {
    this.registry.resetMetrics()
    this.totals.outputTokensGenerated = 0
    this.totals.outputTokensEmitted = 0
  }
}

/** A counter whose value is read from `metrics.totals[key]` at scrape time. */
function publishedCounter(metrics: ProviderMetrics, name: string, help: string, key: keyof ProviderMetrics['totals']): Counter {
  return new Counter({
    name,
    help,
    registers: [metrics.registry],
    collect() {
      this.reset()
      this.inc(metrics.totals[key])
    },
  })
}

/** A gauge per quantile (0.5, 0.99, 1 = max) of a millisecond summary, published in seconds. */
function quantileGauge(metrics: ProviderMetrics, name: string, help: string, read: () => Quantiles): Gauge {
  return new Gauge({
    name,
    help,
    labelNames: ['quantile'],
    registers: [metrics.registry],
    collect() {
      const q = read()
      this.set({ quantile: '0.5' }, q.p50 / 1000)
      this.set({ quantile: '0.99' }, q.p99 / 1000)
      this.set({ quantile: '1' }, q.max / 1000)
    },
  })
}
