"""Learning from demonstrations: policies, their training on episode datasets, checkpoints.

    costeer train --dataset dataset/ --policy cnn -o cnn.pt
    runner = load_policy("cnn.pt"); action = runner.act(observation)   # (6,), ACTION_NAMES order

Needs torch (``pip install 'costeer[agent]'``); import the submodules you need
(:mod:`costeer.agent.checkpoint`, :mod:`costeer.agent.training`, :mod:`costeer.agent.policies`).
"""

__all__: list[str] = []
