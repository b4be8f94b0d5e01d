"""The ECG pre-filter's cloud side: training data and the classifier's training and evaluation,
offline screening of recordings, and the pathology archive that forwarded windows land in."""
