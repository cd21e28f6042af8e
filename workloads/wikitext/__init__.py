"""WikiText-103 (Merity et al., 2016): 103 M words of Wikipedia's good and featured articles, through Hugging Face
``datasets``, for a language model trained from scratch."""
