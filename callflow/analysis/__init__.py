"""Post-call analysis: structured output from an OpenAI-compatible LLM, or the offline analyzer."""
