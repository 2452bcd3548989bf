"""The compiler's edges that are not messages: the tokenizer and the AI provider."""
