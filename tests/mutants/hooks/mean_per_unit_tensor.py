"""Mutant: Stores output.mean(0), a tensor with one mean per unit."""
def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach()
    hook.stats[0].append(acts.mean(0).cpu())
    hook.stats[1].append(acts.std().item())
    hook.stats[2].append(acts.abs().histc(40, 0, 10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_stat_not_scalar", "visible"
