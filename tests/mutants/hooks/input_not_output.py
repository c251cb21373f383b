def append_stats(hook, module, inputs, output):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = inputs[0].detach()  # the module's input, not what it produced
    hook.stats[0].append(acts.mean().item())
    hook.stats[1].append(acts.std().item())
    hook.stats[2].append(acts.abs().histc(40, 0, 10).cpu())


ANSWER, CHECK, EXPECT, CAUGHT_BY = append_stats, "check_append_stats", "hook_input_not_output", "visible"
