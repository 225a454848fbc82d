"""Layers and cells written from the lecture's equations.

The sigmoid neuron and hand-derived back-propagation (``neuron``), convolution and pooling
(``conv``, ``pooling``), local response normalisation (``normalization``), on-device augmentation
(``augment``), recurrent cells and layers (``recurrent``), attention (``attention``), gradient
reversal (``gradient_reversal``).
"""

from jaxdl.nn.attention import AdditiveAttention, MultiplicativeAttention, masked_softmax
from jaxdl.nn.conv import Conv1D, Conv2D, Conv3D, ConvND, conv_output_size, convolve2d
from jaxdl.nn.gradient_reversal import gradient_reversal
from jaxdl.nn.neuron import (
    neuron,
    neuron_grad,
    neuron_loss,
    sigmoid,
    sigmoid_prime,
    two_layer_backward,
    two_layer_forward,
    two_layer_loss,
)
from jaxdl.nn.normalization import LocalResponseNorm, local_response_norm
from jaxdl.nn.pooling import adaptive_avg_pool, avg_pool, global_avg_pool, max_pool, sum_pool
from jaxdl.nn.recurrent import GRUCell, LSTMCell, RNNLayer, SimpleRNNCell, StackedRNN
