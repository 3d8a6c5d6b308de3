"""The NATS subjects and queue groups the services talk on besides the event stream (whose
subjects `proctor.events.codec` makes). Callers and servers both take them from here."""

from __future__ import annotations

CLASSIFY = "proctor.rpc.classify"  # ClassifyRequest -> ClassifyResponse
CLASSIFY_QUEUE = "classifier"
POLICY_CHANGED = "proctor.policy.changed"  # PolicyChanged, core NATS
MASK = "proctor.rpc.mask"  # MaskRequest -> MaskResponse
MASK_QUEUE = "masker"
APPROVAL_REDEEM = "proctor.rpc.approval.redeem"  # RedeemRequest -> RedeemResponse
APPROVAL_STATUS = "proctor.rpc.approval.status"  # ApprovalStatusRequest -> ApprovalStatusResponse
APPROVAL_QUEUE = "approval"  # serves both approval subjects
INGRESS_CANCEL = "proctor.ingress.cancel"  # a CancelRequest's BackendKeyData, core NATS
