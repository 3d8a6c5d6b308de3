"""The prefilter lives in `proctor.maskrules`, shared with the ingress-proxy, which applies it
to decide which rows need the masker at all."""

from proctor.maskrules import PATTERN, Prefilter

__all__ = ["PATTERN", "Prefilter"]
