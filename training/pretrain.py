"""Warm start: behavior cloning of a guidance law before PPO.

Learning a 1,000-step powered descent from scratch costs PPO tens of millions of steps, most of
them spent crashing. The training pipeline can instead start the actor from a guidance law:

1. ``collect_demonstrations`` flies the expert (ZEM/ZEV by default) on the training scenario.
   The executed action is the expert's plus Gaussian noise, the recorded label the expert's
   clean action, so the data covers the states a slightly imperfect student reaches and says
   how to get back (noise injection in the spirit of DART, Laskey et al. 2017).
2. ``clone_actor`` fits the PPO actor's mean to the labels (mean squared error on the
   normalized observations the actor will see in training, the observation normalizer first
   fitted to the demonstrations; ``sample_weights`` can weigh the last metres more).
3. ``dagger_rounds`` rounds of DAgger (Ross, Gordon and Bagnell 2011) follow: the clone flies,
   the expert labels every state the clone reaches (its plan follows the clone's flight), the
   new samples join the data set and the actor is fitted again. Noise injection alone covers
   the states near the expert's flights; DAgger covers the ones the clone's own small errors
   lead to, where a clone of a law with sharp switches (coast, then burn) goes wrong.
4. PPO then trains as usual; ``critic_warmup_steps`` freeze the actor while the value
   function learns the returns of the cloned policy, so the first policy updates use useful
   advantages instead of random ones.

The result is a plain MLP policy like any other PPO policy, so it exports to C unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from lunar_env.simulator import LanderBatch
from training.pretrain_config import PretrainConfig


def collect_demonstrations(scenario, mode: str, observation_mode: str, config: PretrainConfig, seed: int,
                           progress: bool = True, student=None, episodes: int | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(observations (N, obs_dim), expert actions (N, act_dim)) float32 from noisy flights.

    The expert flies unless ``student`` (a function from observations to actions) is given;
    then the student flies and the expert only labels.
    """
    from tqdm.auto import tqdm

    from agents.registry import load_policy

    batch = LanderBatch(scenario, episodes or config.episodes, mode=mode, observation_mode=observation_mode)
    expert = load_policy(config.expert, batch, seed=seed, options=config.expert_options)
    rng = np.random.default_rng(seed)
    obs = batch.reset(seed=seed)
    if hasattr(expert, "reset"):
        expert.reset(batch.num_landers)
    observations, actions = [], []
    done = np.zeros(batch.num_landers, dtype=bool)
    desc = "demonstrations" if student is None else "DAgger flights"
    with tqdm(total=batch.num_landers, desc=desc, unit="ep", disable=not progress, leave=False) as bar:
        for _ in range(batch.scenario.max_steps + 1):
            label = np.asarray(expert.act(obs), dtype=np.float32)
            flying = ~done
            observations.append(obs[flying].copy())
            actions.append(label[flying].copy())
            flown = label if student is None else np.asarray(student(obs), dtype=np.float32)
            executed = np.clip(flown + rng.normal(0.0, config.action_noise, label.shape), -1.0, 1.0)
            obs, _, terminated, truncated = batch.step(executed.astype(np.float32))
            finished = (terminated | truncated) & ~done
            done |= finished
            bar.update(int(finished.sum()))
            if done.all():
                break
    return np.concatenate(observations), np.concatenate(actions)


def sample_weights(obs: np.ndarray, config: PretrainConfig) -> np.ndarray:
    """(N,) loss weights: ``focus_weight`` below ``focus_altitude_m`` of observed altitude, else 1.

    The last metres decide the touchdown speeds within tight limits (0.5 m/s horizontal for
    Vikram), yet they are a small part of every flight; weighting them keeps the fit there
    from being traded for the many high-altitude samples.
    """
    from agents.thrust_command import SLICES

    altitude = obs[:, SLICES["altitude"]][:, 0]
    return np.where(altitude < config.focus_altitude_m, config.focus_weight, 1.0).astype(np.float32)


def clone_actor(model, normalized_obs: np.ndarray, actions: np.ndarray, config: PretrainConfig, seed: int,
                progress: bool = True, epochs: int | None = None, weights: np.ndarray | None = None) -> float:
    """Fit the PPO actor's mean action to the labels (weighted mean squared error); returns
    the final weighted mean squared error."""
    from tqdm.auto import tqdm

    policy = model.policy
    params = list(policy.mlp_extractor.policy_net.parameters()) + list(policy.action_net.parameters())
    optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    epochs = epochs or config.epochs
    # Cosine decay to a tenth: the fit settles instead of ending wherever the last steps bounced.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=config.learning_rate / 10)
    x = torch.as_tensor(normalized_obs, dtype=torch.float32)
    y = torch.as_tensor(actions, dtype=torch.float32)
    w = torch.ones(len(x)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    loss_value = float("nan")
    for _ in tqdm(range(epochs), desc="behavior cloning", unit="epoch", disable=not progress, leave=False):
        order = torch.randperm(len(x), generator=generator)
        total, count = 0.0, 0
        for start in range(0, len(x), config.batch_size):
            index = order[start:start + config.batch_size]
            latent = policy.mlp_extractor.forward_actor(x[index])
            error = torch.mean((policy.action_net(latent) - y[index]) ** 2, dim=1)
            loss = torch.sum(w[index] * error) / torch.sum(w[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
            count += len(index)
        loss_value = total / count
        schedule.step()
    return loss_value


def actor_mean(model, normalize):
    """The actor's deterministic action as a function of raw observations (n, obs_dim); ``model`` is
    a PPO model or its policy."""
    policy = getattr(model, "policy", model)

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(normalize(obs), dtype=torch.float32)
            return policy.action_net(policy.mlp_extractor.forward_actor(x)).numpy()

    return act


def set_actor_trainable(model, trainable: bool) -> None:
    """Freeze or unfreeze the actor (policy network, action head and log std)."""
    policy = model.policy
    for module in (policy.mlp_extractor.policy_net, policy.action_net):
        for p in module.parameters():
            p.requires_grad_(trainable)
    policy.log_std.requires_grad_(trainable)
