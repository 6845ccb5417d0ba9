-- The provider of the model an event called (OpenTelemetry's gen_ai.provider.name values,
-- e.g. openai, anthropic, aws.bedrock), as sent; NULL when the client did not say.
ALTER TABLE events ADD COLUMN provider TEXT;
