"""embedlab: fine-tune sentence-embedding models from composed Hydra config, tracked in MLflow.

Importing this package is cheap (no torch): it only registers the OmegaConf resolvers the configs use.
"""

from __future__ import annotations

from embedlab.config import register_resolvers

register_resolvers()

__version__ = "0.1.0"
