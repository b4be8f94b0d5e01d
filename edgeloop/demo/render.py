"""The demo's closing summary as text (the same dictionary `--json` prints)."""

from __future__ import annotations

from typing import Any


def _model_line(label: str, model: dict[str, Any], component: str, quality: str) -> str:
    if "refused" in model:
        return f"  {label}: {model['model']} refused by the quality gate: {model['refused']}"
    line = f"  {label}: {model['model']} -> {component} {model['component_version']}: {quality}"
    if "approval_to_serving_seconds" in model:
        line += f"; approval -> serving {model['approval_to_serving_seconds']:.1f} s"
    return line


def render(summary: dict[str, Any]) -> str:
    lines = ["", "edgeloop demo summary", " plant (compressed-air digital twin)"]
    for label, model in summary.get("models", {}).items():
        m = model["metrics"]
        lines.append(_model_line(label, model, "com.edgeloop.TwinModel",
                                 f"regret {m['mean_regret_pct']:.2f} % of oracle energy, savings capture "
                                 f"{100 * m['savings_capture']:.1f} %, infeasible {m['infeasible']}"))
    energy = summary.get("energy_live", {})
    if energy.get("samples"):
        lines.append(f"  live plant ({energy['samples']} recommendations, true physics): running "
                     f"{energy['running_kw_mean']:.1f} kW, twin {energy['twin_kw_mean']:.1f} kW "
                     f"({energy['saving_pct']:.1f} % less than the staging rule), oracle "
                     f"{energy['oracle_kw_mean']:.1f} kW (twin regret {energy['regret_pct']:.2f} %)")
    if "ingest" in summary:
        rejected = summary["ingest"]["rejected"]
        count = sum(rejected.values()) if isinstance(rejected, dict) else rejected
        lines.append(f"  data lake: {summary['ingest']['accepted']} rows ingested, {count} rejected")
    if summary.get("live_error"):
        err = summary["live_error"]
        lines.append(f"  twin live error: MAE {err.get('mae_kw')} kW over the last {err.get('window')} samples")
    wear = summary.get("wearables")
    if wear:
        lines.append(" wearables (ECG pre-filter)")
        for label, model in summary.get("ecg_models", {}).items():
            m = model["metrics"]
            lines.append(_model_line(label, model, "com.edgeloop.EcgModel",
                                     f"held-out sensitivity {m['sensitivity_non_normal']:.3f}, normal forwarded "
                                     f"{100 * m['normal_forwarded_fraction']:.1f} %, {model['archive_windows']} "
                                     f"reviewed archive windows"))
        q = wear["screening"]
        lines.append(f"  {wear['devices']} wearables x {wear['chunks_per_device']} chunks: "
                     f"{wear['windows_screened']} windows screened, {wear['windows_forwarded']} forwarded, "
                     f"{wear['alerts']} alerts ({wear['alerts_at_cloud']} at the cloud, "
                     f"{wear['alerts_at_nurse_station']} at the nurse station), archive {wear['archive_windows']}")
        if wear["bytes_in"]:
            lines.append(f"  bytes: {wear['bytes_in']:,} in, {wear['bytes_up']:,} up to the cloud "
                         f"({wear['bytes_up_pct']:.2f} % of the raw stream; {100 - wear['bytes_up_pct']:.2f} % saved)")
        sens, fwd = q["sensitivity_non_normal"], q["normal_forwarded_fraction"]
        lines.append("  screening vs ground truth: sensitivity "
                     f"{'n/a' if sens is None else f'{sens:.3f}'} over {sum(q['windows_by_truth'][k] for k in ('af', 'other', 'noisy'))} "
                     f"non-normal windows, normal forwarded {'n/a' if fwd is None else f'{100 * fwd:.1f} %'} of "
                     f"{q['windows_by_truth']['normal']}; transition windows {q['windows_by_truth']['transition']} "
                     f"({q['forwarded_by_truth']['transition']} forwarded)")
    lines.append(f"  done in {summary.get('elapsed_s')} s")
    return "\n".join(lines)
