"""Fine-tuning the bundled LLM on a shop's own data (LoRA adapters) and loading the adapters back."""
