"""Mutant: Averages the per-unit stds over the batch (std(0).mean()) instead of the std of all values."""


def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach()
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(acts.std(0).mean().item())
    hook.stats[2].append(acts.abs().histc(40, 0, 10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_std_per_feature", "visible"
