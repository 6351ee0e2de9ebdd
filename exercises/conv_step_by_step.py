"""Convolutional network, step by step: the exercise file.

Fill in the functions below with NumPy, then check your work with

    grader check exercises/conv_step_by_step.py            # every function
    grader check exercises/conv_step_by_step.py --function conv_forward

You may leave functions you have not reached yet as they are: they are reported as
"not attempted". Layout conventions (the course's):

* activations ``A`` have shape ``(m, n_H, n_W, n_C)``: batch, height, width, channels;
* conv weights ``W`` have shape ``(f, f, n_C_prev, n_C)`` and biases ``b`` ``(1, 1, 1, n_C)``;
* conv hyperparameters are ``{"stride": s, "pad": p}``, pooling ones ``{"f": f, "stride": s}``;
* output size along one axis: ``floor((n + 2p - f) / s) + 1``.

Deep-learning "convolution" is cross-correlation: do not flip the kernel. NumPy 2.4 no longer
converts a (1, 1, 1) array to a float with ``float(b)``: use ``b.item()``.
"""



def zero_pad(X, pad):
    """Pad every image of the batch with zeros on its height and width.

    Arguments:
    X -- numpy array of shape (m, n_H, n_W, n_C), a batch of m images
    pad -- integer, zeros added on each side of the height and width axes

    Returns:
    X_pad -- padded array of shape (m, n_H + 2*pad, n_W + 2*pad, n_C)
    """
    raise NotImplementedError("zero_pad")


def conv_single_step(a_slice_prev, W, b):
    """Apply one filter to one slice of the input.

    Arguments:
    a_slice_prev -- slice of the input, shape (f, f, n_C_prev)
    W -- weights of one filter, shape (f, f, n_C_prev)
    b -- bias of that filter, shape (1, 1, 1)

    Returns:
    Z -- a scalar (a Python float or NumPy scalar): sum(a_slice_prev * W) + b
    """
    raise NotImplementedError("conv_single_step")


def conv_forward(A_prev, W, b, hparameters):
    """Forward pass of a convolution layer.

    Arguments:
    A_prev -- activations of the previous layer, shape (m, n_H_prev, n_W_prev, n_C_prev)
    W -- weights, shape (f, f, n_C_prev, n_C)
    b -- biases, shape (1, 1, 1, n_C)
    hparameters -- dict with "stride" and "pad"

    Returns:
    Z -- conv output, shape (m, n_H, n_W, n_C) where
         n_H = floor((n_H_prev + 2*pad - f) / stride) + 1 (and likewise n_W)
    cache -- (A_prev, W, b, hparameters), for conv_backward
    """
    raise NotImplementedError("conv_forward")


def pool_forward(A_prev, hparameters, mode="max"):
    """Forward pass of a pooling layer.

    Arguments:
    A_prev -- input, shape (m, n_H_prev, n_W_prev, n_C)
    hparameters -- dict with "f" and "stride"
    mode -- "max" or "average"

    Returns:
    A -- output, shape (m, n_H, n_W, n_C) with n_H = floor((n_H_prev - f) / stride) + 1
    cache -- (A_prev, hparameters), for pool_backward
    """
    raise NotImplementedError("pool_forward")


def conv_backward(dZ, cache):
    """Backward pass of a convolution layer.

    Arguments:
    dZ -- gradient of the cost with respect to Z, shape (m, n_H, n_W, n_C)
    cache -- (A_prev, W, b, hparameters) from conv_forward

    Returns:
    dA_prev -- gradient with respect to A_prev, shape (m, n_H_prev, n_W_prev, n_C_prev)
    dW -- gradient with respect to W, shape (f, f, n_C_prev, n_C)
    db -- gradient with respect to b, shape (1, 1, 1, n_C)
    """
    raise NotImplementedError("conv_backward")


def create_mask_from_window(x):
    """Mark where the maximum of a pooling window is.

    Arguments:
    x -- array of shape (f, f)

    Returns:
    mask -- array of the same shape, True (or 1) at the maximum of x
    """
    raise NotImplementedError("create_mask_from_window")


def distribute_value(dz, shape):
    """Spread a gradient evenly over an average-pooling window.

    Arguments:
    dz -- a scalar, the gradient of one pooled output
    shape -- (n_H, n_W), the window's shape

    Returns:
    a -- array of shape (n_H, n_W), every entry dz / (n_H * n_W)
    """
    raise NotImplementedError("distribute_value")


def pool_backward(dA, cache, mode="max"):
    """Backward pass of a pooling layer.

    Arguments:
    dA -- gradient of the cost with respect to the pooling output, shape (m, n_H, n_W, n_C)
    cache -- (A_prev, hparameters) from pool_forward
    mode -- "max" or "average"

    Returns:
    dA_prev -- gradient with respect to A_prev, shape (m, n_H_prev, n_W_prev, n_C).
               When windows overlap (stride < f), gradients add up: use +=, not =.
    """
    raise NotImplementedError("pool_backward")
