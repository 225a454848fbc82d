"""Layers and cells written from the lecture's equations."""

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
