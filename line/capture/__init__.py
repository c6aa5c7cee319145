"""Frame sources behind one protocol (line/capture/source.py): demo camera, image folder, OpenCV camera, video
file, network stream, Basler pylon and GenICam (harvesters) cameras. No Qt: the desktop's capture thread and the
headless runner both read them."""
