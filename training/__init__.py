"""PPO training with stable-baselines3 on the batched landing environments."""
