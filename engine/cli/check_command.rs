//! `igos check`'s front door: which of its modes runs. The image audit (`--image`), a
//! review against a baseline (`--baseline`, `--baseline-rules`, `--baseline-tree`), or the
//! validate phase (check.rs). The review and the image audit build on check.rs, so the
//! choice is made here, above all three, not in check.rs.

use super::check::{self, CheckArgs};
use super::{baseline, build};

pub fn run(args: &CheckArgs) -> i32 {
    if let Some(image) = &args.image {
        return build::image_audit(&args.inputs(), image, &args.report_options());
    }
    if args.baseline.is_some() || args.review.baseline_rules.is_some() || args.review.baseline_tree.is_some() {
        return baseline::run(args);
    }
    if args.new_only {
        return check::fail(args.color.style(), "check::usage", "--new-only needs a baseline (--baseline REV)".into(), None);
    }
    check::check(&args.inputs(), &args.report_options(), args.since.as_deref(), args.report.as_deref())
}
