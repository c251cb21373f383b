from variants.standardize.solution import Standardize as Solution


class Standardize(Solution):
    def forward(self, x):
        self.adapt(x)  # re-estimates on every batch: validation data is normalized with its own statistics
        return super().forward(x)


ANSWER, CHECK, EXPECT, CAUGHT_BY = Standardize, "check_standardize", "batch_statistics", "visible"
