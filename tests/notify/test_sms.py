"""SMS providers: the vendors' published signing examples, and real HTTP requests to a local
gateway that checks them as the vendor would."""
import json
import urllib.parse

import pytest

from portal.notify.sms import (AliyunSmsProvider, HttpSmsProvider, OutboxOnlyProvider, SmsError,
                               TencentSmsProvider, aliyun_signature, get_provider, tc3_authorization)
from tests.conftest import HttpSink

TEXT = "投诉 KS2026-000123 等待您审批，办理时限：2026-03-02 09:41。"


@pytest.fixture
def gateway():
    """A local HTTP server standing in for an SMS gateway (tests/conftest.py HttpSink): records
    each request and answers with whatever the test queued (status, body), else 200 {}."""
    sink = HttpSink(default=(200, "{}"))
    yield sink
    sink.close()


def _sent(gateway):
    """(headers, body) of each request the gateway got."""
    return [(headers, body) for _path, headers, body in gateway.requests]


# -- Signatures against the vendors' documented examples --------------------------------------

def test_aliyun_signature_matches_the_sendsms_documentation_example():
    # Aliyun SMS "HTTP 协议及签名" example: AccessKeyId testId, AccessKeySecret testSecret.
    params = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert aliyun_signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_tencent_tc3_signature_matches_the_api3_documentation_example():
    # Tencent Cloud API 3.0 "Signature v3" example: CVM DescribeInstances, 2019-02-25.
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    authorization = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm", host="cvm.tencentcloudapi.com", payload=payload, timestamp=1551113065)
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


# -- Real requests to a local gateway ----------------------------------------------------------

def test_outbox_only_provider_sends_nothing():
    assert OutboxOnlyProvider().send("13800000012", TEXT) == "outbox-only"


def test_http_provider_posts_json_with_the_token(gateway):
    gateway.answer({"id": "m-1"})

    answer = HttpSmsProvider(gateway.url, "s3cret").send("13800000012", TEXT)

    assert json.loads(answer) == {"id": "m-1"}
    [(headers, body)] = _sent(gateway)
    assert headers["Authorization"] == "Bearer s3cret"
    assert json.loads(body) == {"phone": "13800000012", "text": TEXT}


def test_http_provider_refused_or_unreachable_raises_sms_error(gateway):
    gateway.answer({"error": "quota"}, status=503)
    with pytest.raises(SmsError, match="HTTP 503.*quota"):
        HttpSmsProvider(gateway.url).send("13800000012", TEXT)

    gateway.server.shutdown()
    gateway.server.server_close()
    with pytest.raises(SmsError):
        HttpSmsProvider(gateway.url).send("13800000012", TEXT)


def aliyun(gateway):
    return AliyunSmsProvider("testId", "testSecret", "示例食品", "SMS_123", endpoint=gateway.url)


def test_aliyun_request_carries_a_signature_the_gateway_can_verify(gateway):
    gateway.answer({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"})

    answer = aliyun(gateway).send("13800000012", TEXT)

    assert "900619746936498440^0" in answer
    [(_, body)] = _sent(gateway)
    params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    signature = params.pop("Signature")
    assert aliyun_signature(params, "testSecret", "POST") == signature
    assert params["Action"] == "SendSms" and params["PhoneNumbers"] == "13800000012"
    assert json.loads(params["TemplateParam"]) == {"content": TEXT}


def test_aliyun_refusal_raises_sms_error_with_its_code(gateway):
    gateway.answer({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"})
    with pytest.raises(SmsError, match="isv.BUSINESS_LIMIT_CONTROL"):
        aliyun(gateway).send("13800000012", TEXT)


def tencent(gateway):
    return TencentSmsProvider("AKIDtest", "secret", "1400000000", "示例食品", "100001",
                              endpoint=gateway.url)


def test_tencent_request_carries_a_signature_the_gateway_can_verify(gateway):
    gateway.answer({"Response": {"SendStatusSet": [{"SerialNo": "5000:1045710669157053657849499619",
                                                    "Code": "Ok", "Message": "send success"}],
                                 "RequestId": "a0aabda6"}})

    answer = tencent(gateway).send("13800000012", TEXT)

    assert "5000:1045710669157053657849499619" in answer
    [(headers, body)] = _sent(gateway)
    assert headers["Authorization"] == tc3_authorization(
        "AKIDtest", "secret", service="sms", host=headers["Host"], payload=body,
        timestamp=int(headers["X-TC-Timestamp"]), content_type=headers["Content-Type"])
    assert headers["X-TC-Action"] == "SendSms"
    sent = json.loads(body)
    assert sent["PhoneNumberSet"] == ["+8613800000012"]
    assert sent["TemplateParamSet"] == [TEXT]


def test_tencent_refusals_raise_sms_error(gateway):
    gateway.answer({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "签名错误"},
                                 "RequestId": "b1"}})
    gateway.answer({"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberDailyLimit",
                                                    "Message": "单个手机号日下发条数超过设定的上限"}]}})
    with pytest.raises(SmsError, match="AuthFailure.SignatureFailure"):
        tencent(gateway).send("13800000012", TEXT)
    with pytest.raises(SmsError, match="PhoneNumberDailyLimit"):
        tencent(gateway).send("13800000012", TEXT)


# -- Choosing the provider ---------------------------------------------------------------------

def test_provider_is_chosen_by_sms_provider_setting():
    assert isinstance(get_provider({}), OutboxOnlyProvider)
    assert isinstance(get_provider({"SMS_PROVIDER": "http", "SMS_HTTP_URL": "http://sms.local/"}),
                      HttpSmsProvider)
    aliyun_settings = {"SMS_PROVIDER": "aliyun", "SMS_ALIYUN_ACCESS_KEY_ID": "id",
                       "SMS_ALIYUN_ACCESS_KEY_SECRET": "secret", "SMS_ALIYUN_SIGN_NAME": "示例食品",
                       "SMS_ALIYUN_TEMPLATE_CODE": "SMS_1"}
    assert isinstance(get_provider(aliyun_settings), AliyunSmsProvider)
    tencent_settings = {"SMS_PROVIDER": "Tencent", "SMS_TENCENT_SECRET_ID": "id",
                        "SMS_TENCENT_SECRET_KEY": "key", "SMS_TENCENT_SDK_APP_ID": "1400000000",
                        "SMS_TENCENT_SIGN_NAME": "示例食品", "SMS_TENCENT_TEMPLATE_ID": "1"}
    assert isinstance(get_provider(tencent_settings), TencentSmsProvider)


def test_missing_or_unknown_provider_settings_name_what_to_configure():
    with pytest.raises(SmsError, match="SMS_HTTP_URL is not configured"):
        get_provider({"SMS_PROVIDER": "http"})
    with pytest.raises(SmsError, match="unknown SMS_PROVIDER 'carrier-pigeon'"):
        get_provider({"SMS_PROVIDER": "carrier-pigeon"})
