"""`perfopt train` as a new user meets it: progress, a readable summary, thread cap, config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from perfopt.cli import main  # noqa: E402
from perfopt.errors import UserError  # noqa: E402
from perfopt.train.advice import recommend, step_bytes_per_sample  # noqa: E402
from perfopt.train.loop import TrainConfig, train  # noqa: E402
from perfopt.train.sequences import validate_sequences, write_sequences  # noqa: E402

SMALL = ["--hidden", "8", "--batch-size", "64", "--device", "cpu"]


def test_train_prints_words_not_a_dict_and_says_its_threads(
    seq_file: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", "--data", str(seq_file), *SMALL, "--epochs", "2"]) == 0
    out, err = capsys.readouterr()
    assert "{" not in out and "'loader'" not in out
    assert "chunk loader: " in out and "torch threads " in out
    assert "batch size: 64 (no recommendation on CPU" in out
    assert "torch threads: " in err and "available cores" in err  # the default, said once
    assert "training on " in err
    # off a terminal, the bar becomes a line at the end of each epoch at least
    assert "epoch 1/2: 4/4 batches" in err and "epoch 2/2: 4/4 batches" in err


def test_train_config_file_sets_options_and_flags_win(
    seq_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = tmp_path / "perfopt.toml"
    cfg.write_text(
        f'[train]\ndata = "{seq_file}"\nloader = "per-sample"\nhidden = 8\nbatch-size = 50\n'
        'device = "cpu"\ntorch-threads = 1\n'
    )
    out = tmp_path / "r.json"
    argv = ["train", "--config", str(cfg), "--batch-size", "100", "--json", str(out)]
    assert main(["-v", *argv]) == 0
    r = json.loads(out.read_text())
    assert r["loader_info"]["loader"] == "per-sample"
    assert r["epochs"][0]["batches"] == 2  # 200 samples in batches of 100: the flag won
    assert r["loader_info"]["torch_threads"] == 1
    assert "torch threads: " not in capsys.readouterr().err  # given: no default note
    cfg.write_text('[train]\nloader = "chunk"\n')
    assert main(["train", "--config", str(cfg)]) == 2
    assert "--data FILE is required" in capsys.readouterr().err


def test_prefetch_and_persistent_workers_reach_the_dataloader(seq_file: Path) -> None:
    from perfopt.train.loaders import per_sample_loader

    loader = per_sample_loader(seq_file, 32, 1, prefetch_factor=3, persistent_workers=True)
    assert loader.prefetch_factor == 3 and loader.persistent_workers is True
    r = train(
        TrainConfig(
            data=seq_file, device="cpu", batch_size=32, hidden=8, loader="per-sample",
            num_workers=1, prefetch_factor=3, persistent_workers=True, epochs=2,
            worker_start_method="spawn",
        )
    )  # fmt: skip
    assert r.loader_info["prefetch_factor"] == 3 and r.loader_info["persistent_workers"]
    assert [e.samples for e in r.epochs] == [200, 200]
    with pytest.raises(UserError, match="--num-workers"):
        train(TrainConfig(data=seq_file, device="cpu", prefetch_factor=2))


def test_carried_state_changes_the_losses_and_matches_one_long_sequence(tmp_path: Path) -> None:
    # Two batches of one sample each: with the state carried, batch 2 continues batch 1,
    # so its prediction equals the model run over both windows joined, from zeros.
    data = write_sequences(tmp_path / "s.h5", 64, 6, 3, horizon=1, seed=1)
    base = dict(data=data, device="cpu", batch_size=8, hidden=8, clip_norm=None)
    off = train(TrainConfig(**base))
    on = train(TrainConfig(**base, carry_state=True))
    assert on.epochs[0].losses[0] == off.epochs[0].losses[0]  # batch 1 starts from zeros
    assert on.epochs[0].losses[1:] != off.epochs[0].losses[1:]
    assert "hidden state carried across batches" in on.report()

    from perfopt.train.model import SequenceRegressor

    torch.manual_seed(0)
    m = SequenceRegressor(3, 1, hidden=4)
    x = torch.randn(1, 12, 3)
    whole = m(x)
    first, state = m.forward_with_state(x[:, :6])
    second, _ = m.forward_with_state(x[:, 6:], state)
    torch.testing.assert_close(second, whole)
    with pytest.raises(UserError, match="--shuffle-within-chunk"):
        train(TrainConfig(**base, carry_state=True, shuffle_within_chunk=True))


def test_batch_size_recommendation_scales_with_free_memory(seq_file: Path) -> None:
    info = validate_sequences(seq_file)
    per = step_bytes_per_sample(info, hidden=64, layers=1, amp=False)
    assert per > info.bytes_per_sample
    small, large = recommend(2**30, per, 10**9), recommend(2**34, per, 10**9)
    assert large == 16 * small and small & (small - 1) == 0  # powers of two, 16x the memory
    assert recommend(2**34, per, 100) == 64  # never more than the samples
