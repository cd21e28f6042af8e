"""Fashion-MNIST workloads. No framework is imported here."""

from workloads import register
from workloads.fashion_mnist.data import CONTENT_SHA256
from workloads.spec import WorkloadSpec

_DATA = dict(
    family="fashion_mnist",
    dataset="Fashion-MNIST (Zalando Research; Debian dataset-fashion-mnist or hub zalando-datasets/fashion_mnist)",
    data_revision=f"content-sha256:{CONTENT_SHA256[:16]}",
    metric="accuracy",
)

_MLP = dict(builder="workloads.fashion_mnist.pytorch.models:build_mlp",
            jax_builder="workloads.fashion_mnist.jax.models:build_mlp", budget_s={"cpu-2core": 30.0},
            eval_period_s=0.25, step_hint=2000, **_DATA)  # evaluation ~17 ms: ~7% of wall time

register(WorkloadSpec(
    name="fashion_mnist_mlp",
    description="Fashion-MNIST, MLP 784-256-128-10 with ReLU, PyTorch default init",
    model="MLP 784-256-128-10, ReLU",
    **_MLP,
))

register(WorkloadSpec(
    name="fashion_mnist_mlp_xavier",
    base="fashion_mnist_mlp",
    description="Variant of fashion_mnist_mlp: Xavier-normal weights and zero biases",
    model="MLP 784-256-128-10, ReLU, Xavier-normal init",
    builder_kwargs={"init": "xavier_normal"},
    **_MLP,
))

_CNN = dict(builder="workloads.fashion_mnist.pytorch.models:build_cnn",
            jax_builder="workloads.fashion_mnist.jax.models:build_cnn", budget_s={"cpu-2core": 60.0},
            eval_period_s=2.0, step_hint=1000, **_DATA)  # ~2 epochs at batch 128: the lite suite stays a 15-minute demo

register(WorkloadSpec(
    name="fashion_mnist_cnn",
    description="Fashion-MNIST, CNN: 2 x (conv3x3 + ReLU + maxpool) with 8/16 channels, FC 64, FC 10",
    model="CNN conv8-conv16-fc64-fc10",
    **_CNN,
))

register(WorkloadSpec(
    name="fashion_mnist_cnn_batchnorm",
    base="fashion_mnist_cnn",
    description="Variant of fashion_mnist_cnn: batch normalization after each convolution",
    model="CNN conv8-BN-conv16-BN-fc64-fc10",
    builder_kwargs={"norm": "batch"},
    **_CNN,
))
