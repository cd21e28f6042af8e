"""One contract file per track. Each states what a submission defines, receives, and may not touch."""
