"""gpucheck: is this Kubernetes cluster ready for GPU training?"""

__version__ = "0.1.0"
