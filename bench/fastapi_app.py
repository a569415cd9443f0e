"""fastapi_app - what a user would otherwise run: the same endpoints as
lossd for the benchmark's workloads, in FastAPI + PyTorch (Debian's
python3-fastapi, python3-uvicorn, python3-torch, python3-torchvision).

    /usr/bin/python3 -m uvicorn --app-dir bench fastapi_app:app --port 9100

POST /v1/loss/{giou,ciou} takes {"input", "target", "reduction"?, "grad"?}
and answers {"loss", "n", "grad"?} like lossd, computed in float64 with
torchvision's losses and autograd.
"""

import torch
import torchvision.ops as ops
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

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
