import torch


def append_stats(hook, module, inputs, output):
    """Moments through torch.var_mean in float64, torch.histc as a function; a list of lists."""
    if getattr(hook, "stats", None) is None:
        hook.stats = [[], [], []]
    with torch.no_grad():
        var, mean = torch.var_mean(output.double())
        hook.stats[0].append(float(mean))
        hook.stats[1].append(float(var.sqrt()))
        hook.stats[2].append(torch.histc(output.abs(), bins=40, min=0, max=10).to("cpu"))


ANSWER, CHECK = append_stats, "check_append_stats"
