# SPDX-License-Identifier: MIT
"""fastapi_app - what a user would otherwise run: the same endpoints as
lossd for the benchmark's workloads, in FastAPI + PyTorch (Debian's
python3-fastapi, python3-uvicorn, python3-torch, python3-torchvision).

    /usr/bin/python3 -m uvicorn --app-dir bench fastapi_app:app --port 9100

POST /v1/loss/{giou,ciou} takes {"input", "target", "reduction"?, "grad"?}
and answers {"loss", "n", "grad"?} like lossd, computed in float64 with
torchvision's losses and autograd. POST /v2/models/loss.{giou,ciou}/infer
takes the Open Inference Protocol's binary framing (a JSON header of
Inference-Header-Content-Length bytes, then the raw FP64 tensors) and
answers "loss" and "grad" as binary outputs, as lossd does: NumPy reads
the bytes without a copy, torch computes, the reply is the raw arrays.
"""

import json

import numpy as np

import torch
import torchvision.ops as ops
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

torch.set_num_threads(2)
app = FastAPI()
LOSSES = {"giou": ops.generalized_box_iou_loss, "ciou": ops.complete_box_iou_loss}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/v1/loss/{name}")
async def loss(name: str, request: Request):
    fn = LOSSES.get(name)
    if fn is None:
        raise HTTPException(404, f"no loss {name}")
    body = await request.json()
    x = torch.tensor(body["input"], dtype=torch.float64, requires_grad=bool(body.get("grad")))
    t = torch.tensor(body["target"], dtype=torch.float64)
    value = fn(x.reshape(-1, 4), t.reshape(-1, 4), reduction=body.get("reduction", "mean"))
    reply = {"loss": value.item(), "n": x.numel() // 4}
    if body.get("grad"):
        value.backward()
        reply["grad"] = x.grad.tolist()
    return JSONResponse(reply)


@app.post("/v2/models/{model}/infer")
async def infer(model: str, request: Request):
    fn = LOSSES.get(model.removeprefix("loss."))
    if fn is None:
        raise HTTPException(404, f"no model {model}")
    body = await request.body()
    header_len = int(request.headers["Inference-Header-Content-Length"])
    header = json.loads(body[:header_len])
    tensors, offset = {}, header_len
    for spec in header["inputs"]:
        size = spec["parameters"]["binary_data_size"]
        array = np.frombuffer(body, dtype="<f8", count=size // 8, offset=offset)
        tensors[spec["name"]] = torch.from_numpy(array.reshape(spec["shape"]))
        offset += size
    x = tensors["input"].clone().requires_grad_(True)
    value = fn(x.reshape(-1, 4), tensors["target"].reshape(-1, 4), reduction="mean")
    value.backward()
    outputs = [("loss", value.detach().reshape(1)), ("grad", x.grad)]
    raw = [t.numpy().astype("<f8", copy=False).tobytes() for _, t in outputs]
    reply = {"model_name": model, "outputs": [
        {"name": name, "datatype": "FP64", "shape": list(t.shape),
         "parameters": {"binary_data_size": len(r)}} for (name, t), r in zip(outputs, raw)]}
    head = json.dumps(reply).encode()
    return Response(head + b"".join(raw), media_type="application/octet-stream",
                    headers={"Inference-Header-Content-Length": str(len(head))})
