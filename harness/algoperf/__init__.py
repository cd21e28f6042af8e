"""AlgoPerf compatibility names, so that an AlgoPerf PyTorch submission runs with only its imports changed.

``from algoperf import spec`` (or ``algorithmic_efficiency``) becomes ``from harness.algoperf import spec``, and
``from algoperf.pytorch_utils import pytorch_setup`` becomes ``from harness.algoperf.pytorch_utils import
pytorch_setup``. ``podium port-algoperf`` applies exactly these rewrites.
"""
