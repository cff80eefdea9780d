"""AI provider clients (text, image, video, asr, vision), their resilience (timeouts, retries, circuit breaker)
and offline local implementations. A library the pipelines call: it knows no jobs, features or surfaces."""
