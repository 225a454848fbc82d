"""Transfer learning: fine-tuning masks, instance re-weighting, TCA, DANN, Net2Net, and the layer
transferability experiment of Yosinski et al. (2014), each as importable library functions.

``jaxdl.transfer.tca`` is the TCA *function* (the public contract); its module is ``tca_lib``.
"""

from jaxdl.transfer import dann, finetune, importance, net2net, transferability
from jaxdl.transfer import tca as tca_lib
from jaxdl.transfer.dann import (
    DANN,
    DomainClassifier,
    FeatureExtractor,
    LabelPredictor,
    dann_loss,
    lambda_schedule,
    lr_schedule,
)
from jaxdl.transfer.finetune import (
    copy_layers,
    freeze,
    layer_names,
    layer_scale,
    load_params,
    mask_frozen_updates,
    reinit_head,
    scale_by_layer,
    scale_layers,
)
from jaxdl.transfer.importance import (
    domain_classifier_weights,
    kmm_weights,
    weighted_cross_entropy,
    weighted_mean,
    weighted_mmd2,
)
from jaxdl.transfer.net2net import net2deeper, net2wider, widen_layer
from jaxdl.transfer.tca import tca, tca_fit, tca_nystrom
from jaxdl.transfer.transferability import initial_params, transfer_settings

__all__ = [
    "dann",
    "finetune",
    "importance",
    "net2net",
    "tca_lib",
    "transferability",
    "DANN",
    "DomainClassifier",
    "FeatureExtractor",
    "LabelPredictor",
    "dann_loss",
    "lambda_schedule",
    "lr_schedule",
    "copy_layers",
    "freeze",
    "layer_names",
    "layer_scale",
    "load_params",
    "mask_frozen_updates",
    "reinit_head",
    "scale_by_layer",
    "scale_layers",
    "domain_classifier_weights",
    "kmm_weights",
    "weighted_cross_entropy",
    "weighted_mean",
    "weighted_mmd2",
    "net2deeper",
    "net2wider",
    "widen_layer",
    "tca",
    "tca_fit",
    "tca_nystrom",
    "initial_params",
    "transfer_settings",
]
