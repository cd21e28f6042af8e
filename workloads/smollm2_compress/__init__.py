"""SmolLM2-135M compression (compression track): the pretrained language model compressed to a perplexity floor on
held-out English text (the Rotten Tomatoes critics' snippets) and a size or latency target."""
