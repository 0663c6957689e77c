"""The pre-upgrade gate: a baseline of the cluster's GPU fingerprint and check results
(store), the fingerprint (fingerprint), what changed since (diff), and GPU-GATE-001 (gate)."""
