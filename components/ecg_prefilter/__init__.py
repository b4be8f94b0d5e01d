"""The wearable ECG pre-filter (com.edgeloop.EcgPrefilter): per device, 60 s windows of a 250 Hz
single-lead ECG are reduced to rhythm, spectral and quality features for a normal / af / other /
noisy classifier; only non-normal windows go to the cloud.

Module map (one job each):
  filters   SignalError, input validation, band-pass / notch preprocess, resample
  qrs       detect_r_peaks: Pan-Tompkins-style QRS detector
  rhythm    rr_features: HRV and RR-irregularity features (AF vs ectopy vs sinus)
  spectral  spectrogram_features, spectrogram_summary (16 x 12 float16 for the cloud)
  quality   signal_quality: lead-off, clipping, noise, template SQIs and a 0..1 quality score
  features  FEATURE_NAMES, window_features, analyse_window: the classifier's input vector
"""
