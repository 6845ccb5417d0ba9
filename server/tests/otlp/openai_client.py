"""A real instrumented client for server/tests/otlp.rs.

The official `openai` Python client, instrumented by `opentelemetry-instrumentation-openai-v2`,
exports its spans with `opentelemetry-exporter-otlp-proto-http` (protobuf) to the server
under test, configured only through the standard environment variables
OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS (set by the Rust test).

The one fake is the model provider: a small OpenAI-compatible HTTP server started here on
port 0 stands for api.openai.com, which cannot be reached from the test machine. It answers
a chat completion, a streamed one (with `stream_options.include_usage`) and an error, and
this script prints, as JSON on stdout, the usage it reported for each, which the Rust test
compares with what the server stored.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# What the fake upstream reports, by the request's model.
PLAIN = {"model": "gpt-4o-mini-2024-07-18", "prompt": 21, "completion": 7, "cached": 5}
STREAMED = {"model": "gpt-4o-2024-08-06", "prompt": 30, "completion": 12, "cached": 0}


class FakeOpenAI(BaseHTTPRequestHandler):
    """Stands for the OpenAI API: /v1/chat/completions only."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body["model"] == "gpt-does-not-exist":
            self.answer(404, {"error": {"message": "The model `gpt-does-not-exist` does not exist",
                                        "type": "invalid_request_error", "code": "model_not_found"}})
            return
        usage = STREAMED if body.get("stream") else PLAIN
        usage_json = {
            "prompt_tokens": usage["prompt"],
            "completion_tokens": usage["completion"],
            "total_tokens": usage["prompt"] + usage["completion"],
            "prompt_tokens_details": {"cached_tokens": usage["cached"]},
        }
        if not body.get("stream"):
            self.answer(200, {
                "id": "chatcmpl-plain", "object": "chat.completion", "created": 1_760_000_000,
                "model": usage["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "Hello there."}}],
                "usage": usage_json,
            })
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        chunk = {"id": "chatcmpl-stream", "object": "chat.completion.chunk",
                 "created": 1_760_000_000, "model": usage["model"]}
        for i, word in enumerate(["Hel", "lo"]):
            delta = {"content": word} if i else {"role": "assistant", "content": word}
            self.event(dict(chunk, choices=[{"index": 0, "delta": delta, "finish_reason": None}]))
        self.event(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        self.event(dict(chunk, choices=[], usage=usage_json))
        self.wfile.write(b"data: [DONE]\n\n")

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def event(self, doc):
        self.wfile.write(b"data: " + json.dumps(doc).encode() + b"\n\n")
        self.wfile.flush()


def main():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()

    resource = Resource.create({"service.name": "otel-test-app",
                                "deployment.environment.name": "test"})
    provider = TracerProvider(resource=resource)
    # Endpoint and headers come from OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_HEADERS.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("test-app")

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{upstream.server_port}/v1",
                           api_key="sk-test", max_retries=0)
    # An application span around the calls (not a model call: skipped), and an agent span
    # that carries the sum of its children's usage (skipped too, or tokens count twice).
    with tracer.start_as_current_span("handle_request"):
        with tracer.start_as_current_span("invoke_agent planner") as agent:
            agent.set_attribute("gen_ai.operation.name", "invoke_agent")
            agent.set_attribute("gen_ai.usage.input_tokens", PLAIN["prompt"] + STREAMED["prompt"])
            agent.set_attribute("gen_ai.usage.output_tokens",
                                PLAIN["completion"] + STREAMED["completion"])
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello"}])
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Say hello"}],
                stream=True, stream_options={"include_usage": True})
            for _ in stream:
                pass
        try:
            client.chat.completions.create(
                model="gpt-does-not-exist", messages=[{"role": "user", "content": "Hi"}])
            sys.exit("the fake upstream should have refused gpt-does-not-exist")
        except openai.NotFoundError:
            pass

    if not provider.force_flush(30_000):
        sys.exit("the exporter did not flush within 30 s")
    provider.shutdown()
    upstream.shutdown()
    print(json.dumps({"plain": PLAIN, "streamed": STREAMED,
                      "error_model": "gpt-does-not-exist"}))


if __name__ == "__main__":
    main()
