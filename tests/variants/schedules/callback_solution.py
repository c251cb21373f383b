from variants.schedules.solution import LRSchedulerCB

ANSWER, CHECK = LRSchedulerCB, "check_lr_callback"
