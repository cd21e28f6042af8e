"""AlgoPerf's public submission API, so that an AlgoPerf PyTorch submission runs with only its imports changed.

==============================  ==========================================  ===================================
AlgoPerf module                 Podium module                               offers
==============================  ==========================================  ===================================
``algoperf.spec``               :mod:`harness.algoperf.spec`                every ``spec`` name submissions use
``algoperf.pytorch_utils``      :mod:`harness.algoperf.pytorch_utils`       ``pytorch_setup``, ``pytorch_init``,
                                                                            ``sync_ddp_time``, BN and dropout
                                                                            helpers
``algoperf.param_utils``        :mod:`harness.algoperf.param_utils`         ``pytorch_param_shapes``,
                                                                            ``pytorch_param_types``
==============================  ==========================================  ===================================

``algorithmic_efficiency`` (AlgoPerf's earlier package name) maps the same way. ``podium port-algoperf``
(:mod:`harness.algoperf.port`) rewrites the imports; what is not offered, and why, is listed in the README.
"""
