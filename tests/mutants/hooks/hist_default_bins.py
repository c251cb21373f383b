"""Mutant: histc(min=0, max=10) without bins=40: torch's default 100 bins."""


def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach()
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(acts.std().item())
    hook.stats[2].append(acts.abs().histc(min=0, max=10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_hist_wrong_bins", "visible"
