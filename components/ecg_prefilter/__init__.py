"""The wearable ECG pre-filter (com.edgeloop.EcgPrefilter): per device, 60 s windows of a 250 Hz
single-lead ECG are reduced to rhythm, spectral and quality features for a normal / af / other /
noisy classifier; only non-normal windows go to the cloud.

Module map (one job each):
  filters    SignalError, input validation, band-pass / notch preprocess, resample
  qrs        detect_r_peaks: Pan-Tompkins-style QRS detector
  rhythm     rr_features: HRV and RR-irregularity features (AF vs ectopy vs sinus)
  spectral   spectrogram_features, spectrogram_summary (16 x 12 float16 for the cloud)
  quality    signal_quality: lead-off, clipping, noise, template SQIs and a 0..1 quality score
  ectopy     ectopy_features: repeating beats unlike the dominant one, wide QRS, short-long RR
  features   FEATURE_NAMES, window_features, analyse_window: the classifier's input vector
  strides    stride_starts: where windows start in a recording (offline tools)
  classifier EcgClassifier: XGBoost screener, forwarding threshold, verified model directory
  reassembly DeviceStream: one wearable's chunks -> continuous signal -> windows by sample count
             (duplicates, reordering, late chunks, gaps, device restarts)
  service    PrefilterService: chunks in, messages out (screening, summaries, error reports, status);
             no IPC, so tests drive it directly
  component  PrefilterComponent: IPC glue (callback parses and enqueues, one worker, model hot swap
             through edgeloop.model_component); `python -m edgeloop.components.ecg_prefilter`
  packaging  the EcgModel and EcgPrefilter Greengrass components

Topics and wire formats (parse_chunk, window / alert / summary / error messages) are the ECG
contract, edgeloop.contracts.ecg, shared with the wearables and the cloud.
"""
