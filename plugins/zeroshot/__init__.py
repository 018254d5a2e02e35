"""Zero-cost proxies from 2021-2024 that NAS-Bench-Suite-Zero and zero-cost-nas lack: Zen-NAS, ZiCo, MeCo,
SWAP and AZ-NAS, each with its paper's defaults (entry point ``zeroshot``)."""
