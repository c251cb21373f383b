"""normlab: what the course's notebooks import -- data, device, seeding, a training loop, hooks, plots.

It never contains an exercise's answer: learners write those in the lessons.
"""

from .data import DataError, DataLoaders, TensorLoader, get_dls, load_mnist, mnist_tensors
from .device import default_device, set_threads, to_device
from .grading import grading, scaled
from .hooks import Hook, Hooks
from .models import cnn, conv_block, init_cnn, make_norm, train_cnn
from .learner import (Callback, CancelBatchException, CancelEpochException, CancelFitException, DeviceCB,
                      Learner, MetricsCB, ProgressCB, SGD, SingleBatchCB, TrainLossCB, accuracy, fit_model)
from .seed import set_seed
from .timing import median_ms

__version__ = "0.1.0"

__all__ = [
    "DataError", "DataLoaders", "TensorLoader", "get_dls", "load_mnist", "mnist_tensors",
    "default_device", "set_threads", "to_device", "grading", "scaled", "Hook", "Hooks",
    "Callback", "CancelBatchException", "CancelEpochException", "CancelFitException", "DeviceCB",
    "Learner", "MetricsCB", "ProgressCB", "SGD", "SingleBatchCB", "TrainLossCB", "accuracy", "fit_model", "set_seed",
    "median_ms", "cnn", "conv_block", "init_cnn", "make_norm", "train_cnn",
]
