def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = output.detach()
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(acts.std().item())
    hook.stats[2].append(acts.abs().histc(40, -10, 10).cpu())  # range -10..10: half the bins stay empty


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_hist_wrong_bins", "visible"
