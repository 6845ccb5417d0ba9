// A real OpenTelemetry JS client for server/tests/otlp.rs: the OTel JS SDK with its OTLP/HTTP
// exporter, which sends JSON, configured only through OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_HEADERS. It records GenAI spans as instrumentations such as the Vercel
// AI SDK do (a chat call with cached tokens, an embeddings call, a failed call) and one
// HTTP span that is no model call, then prints what it sent as JSON on stdout.
import { SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'js-app' }),
  spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter() })],
});
const tracer = provider.getTracer('js-test');

const calls = [
  {
    name: 'chat gpt-4.1',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 340,
      'gen_ai.usage.cache_read.input_tokens': 1000,
    },
  },
  {
    name: 'embeddings text-embedding-3-small',
    attributes: {
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.usage.input_tokens': 64,
    },
  },
  {
    name: 'chat claude-sonnet-4',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-20250514',
      'error.type': 'overloaded_error',
    },
    error: 'Overloaded',
  },
];

for (const call of calls) {
  const span = tracer.startSpan(call.name, { attributes: call.attributes });
  if (call.error) span.setStatus({ code: SpanStatusCode.ERROR, message: call.error });
  span.end();
}
tracer.startSpan('GET /api/answer', { attributes: { 'http.request.method': 'GET' } }).end();

await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify(calls));
