"""Mutant: Records the mean of |output| (as for the histogram) instead of the mean."""


def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach().abs()
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(output.detach().std().item())
    hook.stats[2].append(acts.histc(40, 0, 10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_mean_of_abs", "visible"
