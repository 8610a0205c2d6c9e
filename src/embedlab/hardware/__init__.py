"""Hardware presets (`conf/hardware/`): device, precision and dataloader settings."""
