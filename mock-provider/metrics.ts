import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics, each on the provider's own registry (never prom-client's global one, so two
 * providers in one process, as in tests, do not collide).
 */
export class ProviderMetrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'cancelbench_requests_total', help: 'API requests by route and status', labelNames: ['route', 'status'], registers: [this.registry] })
  readonly generations = new Counter({ name: 'cancelbench_generations_total', help: 'Finished generations by API and stop reason', labelNames: ['api', 'stop_reason'], registers: [this.registry] })
  readonly outputTokensGenerated = new Counter({ name: 'cancelbench_output_tokens_generated_total', help: 'Output tokens generated; every generated token is billed', registers: [this.registry] })
  readonly outputTokensEmitted = new Counter({ name: 'cancelbench_output_tokens_emitted_total', help: 'Output tokens written to a client before it went away', registers: [this.registry] })
  readonly inputTokensBilled = new Counter({ name: 'cancelbench_input_tokens_billed_total', help: 'Input tokens billed', registers: [this.registry] })
  readonly disconnects = new Counter({ name: 'cancelbench_disconnects_total', help: 'Client disconnects observed during a generation', registers: [this.registry] })
  readonly stopLatency = new Histogram({
    name: 'cancelbench_stop_latency_seconds',
    help: 'Disconnect observed -> generation stopped',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  })
  readonly active: Gauge

  constructor(activeCount: () => number) {
    this.active = new Gauge({
      name: 'cancelbench_active_generations',
      help: 'Generations in progress',
      registers: [this.registry],
      collect() {
        this.set(activeCount())
      },
    })
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  reset(): void {
    this.registry.resetMetrics()
  }
}
