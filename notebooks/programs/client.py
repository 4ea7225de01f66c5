#!/usr/bin/python3
# 文件名:client.py
# The seed's client, typed in as the seed has it. Changes needed to run it here
# are marked "CHANGED"; its flaws are left in on purpose (the lessons fix them).
# 导入 socket、sys 模块
import socket
import sys
# 创建 socket 对象
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# 获取本地主机名
host = '127.0.0.1' #socket.gethostname()
print(f'{host}')
# 设置端口号
port = int(sys.argv[1]) if len(sys.argv) > 1 else 9998  # CHANGED: port from the command line (default 9998, as in the seed)
# 连接服务,指定主机和端口
s.connect((host, port))
print("链接成功")
while True:
    data = input("请输入发送给服务器的数据:")
    print(data)
    if data == '0':
        #断开连接
        s.close()
        print("已断开链接……")
        break
    #发送数据
    s.send(data.encode("utf-8"))
    print("发送成功!")
    # 接收服务器响应小于 1024 字节的数据
    msg = s.recv(1024)
    print (msg.decode('utf-8'))
s.close()
# 启动命令
# python3 client.py
