"""Mutant: Stores output.mean() as it is, attached to the graph."""
def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    hook.stats[0].append(output.mean())
    hook.stats[1].append(output.detach().std().item())
    hook.stats[2].append(output.detach().abs().histc(40, 0, 10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_not_detached", "visible"
