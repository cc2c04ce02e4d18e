"""Daily AI quotas (SPEC §16). The API every AI feature calls is in quotas/service.py:

from quotas.service import Kind, QuotaExceeded, aconsume, consume, allowance
"""
